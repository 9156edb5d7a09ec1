"""A task folder and a models file for the Runs page: one student model, at a loopback endpoint that answers."""

import json
from pathlib import Path

TASK_ANSWER = "150"
# What a diligent student finds in one step of a scaffold: long enough for the step's asked-for shape (~100 words
# at most in the sample scaffolds: a fifth of that will do).
STEP_FINDING = ("Clause 12.3 caps the Supplier's total liability at 150% of the annual fees. The cap covers every "
                "claim under the agreement, and no other clause lifts it, not even for data loss or confidentiality.")


def plan_steps(prompt: str) -> list[int]:
    """The numbers of the scaffold steps a prompt asking the student to adapt a plan offers."""
    offered = prompt.split("A plan that worked on a similar task:\n")[1].split("\n\n")[0]
    return [int(line.split(".")[0]) for line in offered.splitlines()]


def keeping_every_step(prompt: str) -> str:
    """A student's adapted plan that keeps the scaffold's steps as they are."""
    return json.dumps({"steps": [{"from_step": n, "instruction": ""} for n in plan_steps(prompt)]})


def student_answer(prompt: str) -> str:
    """A student that keeps the scaffold's plan when asked to adapt one, carries out each step, and answers every
    task correctly."""
    if "Adapt this plan" in prompt:
        return keeping_every_step(prompt)
    return STEP_FINDING if "Your step (" in prompt else TASK_ANSWER


def write_tasks(folder: Path, count: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [{"format": "trellis-tasks", "version": 1, "title": "liability caps"}]
    for number in range(1, count + 1):
        lines.append({
            "id": f"cap-{number}", "task_class": "legal-contract-review",
            "instruction": f"Contract {number}: what is the liability cap, as a percentage of the annual fees?",
            "context": {"text": f"Contract {number}. 12.3 The Supplier's total liability is capped at 150% of the annual fees."},
            "expected": 150, "checker": {"kind": "number"},
            "budget": {"max_calls": 10, "max_tokens": 50_000, "max_seconds": 120},
        })
    path = folder / "caps.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return folder


def write_models(path: Path, student_url: str) -> Path:
    path.write_text(f'[models.test-student]\nmodel = "openai/test-student"\napi_base = "{student_url}"\ntimeout = 30\n')
    return path


def answering(answer_for, adapt=keeping_every_step):
    """A stand-in for litellm.completion that answers through mock_response: a plan to adapt with ``adapt(prompt)``
    (by default the scaffold's steps as they are), anything else with ``answer_for(prompt)``."""
    prompts = []

    def completion(messages, **kwargs):
        prompt = messages[-1]["content"]
        prompts.append(prompt)
        answer = adapt(prompt) if "Adapt this plan" in prompt else answer_for(prompt)
        import litellm  # after LITELLM_LOCAL_MODEL_COST_MAP is set: see tests/conftest.py

        return litellm.completion(model=kwargs["model"], messages=messages, mock_response=answer)

    completion.prompts = prompts
    return completion
