"""Student runs: a student model carries out tasks, with an approved scaffold or without, and each run is a trace.

``plan`` is Trellis's own executor; ``batch`` runs task files, scores each answer with the task's
checker and stores run and trace together; ``models`` holds the run record the store keeps.
"""
