"""Workflows meeting the forge (GitHub, GitLab): clients of their REST APIs over one base
(``forge``, ``github``, ``gitlab``), references to them (``remotes``), a workspace's branch
opened as a pull request (``pull_requests``), ``caw work``'s issues-to-plan step and the
words it writes back (``work``), and the pull request cycle's git and forge steps (``merging``)."""
