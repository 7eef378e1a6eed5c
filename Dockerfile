# The CPF Ledger service image: the API (uvicorn workers) and, with another command, the
# projection worker. Configuration comes from the environment (see README "Settings").
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    LEDGER_ENVIRONMENT=production LEDGER_DATA_DIR=/var/lib/cpf-ledger
WORKDIR /app
COPY pyproject.toml requirements.lock README.md LICENSE ./
COPY ledger ledger
COPY projections projections
COPY api api
RUN pip install -r requirements.lock && pip install --no-deps . && useradd --system --uid 10001 cpf && mkdir -p /var/lib/cpf-ledger \
    && chown cpf /var/lib/cpf-ledger
USER cpf
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["cpf-ledger", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "4"]
