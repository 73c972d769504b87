"""The petition catalogue: the ``petitions`` topic (``store``: read, write, validate a
petition) and each process's followed copy of it (``follower``). Above the core, the
codec and the rules, which it uses; below every process, which reads it."""
