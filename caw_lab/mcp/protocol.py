"""The agent protocol in a few lines, told to agents by the server and written into CLAUDE.md.

One text for both so an agent reads the same steps whichever way it met caw; the
long form is the reference's docs/agent-protocol.md.
"""

PROTOCOL = """caw keeps your workflow (a DAG of tasks) alive across context resets. Use its MCP tools:

1. Register: `agent_register` (name, runtime) once per session; keep the returned agent id.
2. Find work: `workflow_list` with status `in_progress`, then `workflow_next_tasks`
   (or create one: `workflow_create` -> `workflow_set_plan`).
3. Claim: `task_claim` (task_id, agent_id); on `success: false` pick another task.
4. Load context: `task_load_context` before starting.
5. Work: `task_update_status` to `planning`, then `in_progress`; `checkpoint_add` after each
   significant step; `agent_heartbeat` while working.
6. Complete: `task_update_status` `completed` with an `outcome` (or `failed` with an `error`).
7. Finish: `agent_unregister` when you stop.

After a context reset, recover before anything else (the `recover_context` prompt):
`workflow_list` status `in_progress` -> `workflow_progress` ->
`task_load_context` with `include.all_checkpoints: true`, and resume from the last checkpoint.
"""
