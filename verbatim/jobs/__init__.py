"""A job as the service knows it, apart from HTTP and Celery.

- :mod:`~verbatim.jobs.layout`: its object keys and artefact kinds (the one place a key is spelled);
- :mod:`~verbatim.jobs.request`: the one typed request (what the user asked for);
- :mod:`~verbatim.jobs.stages`: the pipeline stages a request needs, their models loaded once per process;
- :mod:`~verbatim.jobs.pseudonymized`: its pseudonymised artefacts;
- :mod:`~verbatim.jobs.retention`: retention periods, legal holds, the purge;
- :mod:`~verbatim.jobs.service`: the service's shared parts (engine, sessions, store) and the dispatcher
  protocol, built in one place for the API, the workers and the CLI.
"""
