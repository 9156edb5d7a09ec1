"""Roles and the audit log: what each role may do, granting roles from the CLI, and the CLI's own identity."""

import json

import pytest

from core.auth import Action, Actor, PermissionDenied, Role, local_actor, os_account
from core.cli import main
from tests.support.people import ADA, DANA, LEE, VIC
from tests.support.scaffold_library import sample_files


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_each_role_can_do_what_the_one_below_it_can_and_more():
    assert not VIC.can(Action.REVIEW) and not VIC.can(Action.IMPORT)
    assert DANA.can(Action.REVIEW) and DANA.can(Action.EDIT) and DANA.can(Action.SUBMIT) and not DANA.can(Action.DECIDE)
    assert LEE.can(Action.DECIDE) and LEE.can(Action.REVIEW) and not LEE.can(Action.GRANT)
    assert ADA.can(Action.GRANT) and ADA.can(Action.DELETE) and ADA.can(Action.DECIDE)
    assert local_actor().can(Action.GRANT) and local_actor().single_user


def test_only_an_admin_grants_roles_and_every_grant_is_audited(store):
    with pytest.raises(PermissionDenied, match=r"lee@example.com \(approver\) may not grant roles: that needs the admin role or above"):
        store.grant_role("vic@example.com", Role.ADMIN, LEE)
    store.grant_role("lee@example.com", Role.APPROVER, ADA)
    store.grant_role("lee@example.com", Role.REVIEWER, ADA)  # a new grant replaces the old role
    assert [(g.email, g.role, g.granted_by) for g in store.list_users()] == [("lee@example.com", "reviewer", ADA.name)]
    assert store.role_of("lee@example.com") == Role.REVIEWER and store.role_of("nobody@example.com") is None
    assert [(e.actor, e.action, e.target, e.details) for e in store.audit_log()] == [
        (ADA.name, "grant role", "lee@example.com", {"role": "reviewer"}),
        (ADA.name, "grant role", "lee@example.com", {"role": "approver"})]


def test_a_viewer_cannot_delete_a_trace(store, tmp_path):
    from core import import_files
    import_files(store, sample_files()[:1])
    trace_id = store.list_traces()[0].id
    with pytest.raises(PermissionDenied, match="may not delete traces"):
        store.delete_trace(trace_id, VIC)
    store.delete_trace(trace_id, ADA)
    assert store.count_traces() == 0
    assert store.audit_log(1)[0].action == "delete trace"


def test_the_cli_grants_lists_and_audits(tmp_path, capsys):
    db = str(tmp_path / "t.duckdb")
    code, out, _ = cli(capsys, "user", "grant", "Lee@Example.com", "approver", "--db", db)
    assert code == 0 and out == f"lee@example.com is now approver (granted by {os_account()})\n"
    code, out, _ = cli(capsys, "user", "list", "--json", "--db", db)
    assert [(u["email"], u["role"]) for u in json.loads(out)] == [("lee@example.com", "approver")]
    code, out, _ = cli(capsys, "audit", "--json", "--db", db)
    [entry] = json.loads(out)
    assert (entry["actor"], entry["action"], entry["target"]) == (os_account(), "grant role", "lee@example.com")

    code, _, err = cli(capsys, "user", "grant", "lee@example.com", "owner", "--db", db)
    assert code == 1 and err == "error: unknown role 'owner'; roles: viewer, reviewer, approver, admin\n"
    code, _, err = cli(capsys, "user", "grant", "not an address", "viewer", "--db", db)
    assert code == 1 and err == "error: 'not an address' is not an e-mail address\n"


def test_once_roles_are_granted_the_cli_cannot_approve_its_own_extraction(tmp_path, capsys):
    db = str(tmp_path / "t.duckdb")
    assert main(["import", *map(str, sample_files()), "--db", db]) == 0
    teacher = "legal-msa-teacher-70b"
    code, out, _ = cli(capsys, "user", "grant", "lee@example.com", "approver", "--db", db)
    code, out, _ = cli(capsys, "scaffold", "extract", teacher, "--db", db)
    scaffold_id = out.split("\t")[0]
    assert cli(capsys, "scaffold", "submit", scaffold_id, "--version", "1", "--db", db)[0] == 0
    code, _, err = cli(capsys, "scaffold", "approve", scaffold_id, "--version", "1", "--db", db)
    assert code == 1
    assert err == f"error: {os_account()} saved {scaffold_id} v1; another approver has to approve it\n"


def test_an_actor_is_who_the_identity_provider_says():
    someone = Actor("someone@example.com", Role.VIEWER)
    with pytest.raises(PermissionDenied, match=r"someone@example.com \(viewer\) may not run critiques: that needs the reviewer role"):
        someone.require(Action.CRITIQUE)


def test_imports_and_critiques_are_audited_and_a_viewer_may_do_neither(store, tmp_path):
    from core import import_files
    from core.critique.teacher import run_critique

    with pytest.raises(PermissionDenied, match="may not import traces"):
        import_files(store, sample_files()[:1], actor=VIC)
    assert store.count_traces() == 0
    [imported] = import_files(store, sample_files()[:1], actor=DANA)
    with pytest.raises(PermissionDenied, match="may not run critiques"):
        run_critique(store, imported.trace.id, actor=VIC)
    run_critique(store, imported.trace.id, actor=DANA)
    assert [(e.actor, e.action, e.target) for e in store.audit_log()] == [
        (DANA.name, "critique", imported.trace.id), (DANA.name, "import trace", imported.trace.id)]
