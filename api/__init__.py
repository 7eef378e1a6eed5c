"""Interfaces of the CPF ledger: the HTTP API (FastAPI) and the ``cpf-ledger`` command line."""
