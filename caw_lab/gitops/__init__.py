"""Workflows meeting the forge: a workflow made from a GitHub issue, and a workspace's branch
pushed and opened as a pull request that closes it (``github``, ``pull_requests``)."""
