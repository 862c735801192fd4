# Tender: one image for every role of config/serving.py (front, web, asgi, worker, outbox,
# webhooks, beat); the command picks the role. Not built in CI (this machine kind has no
# Docker engine); kept in step with the Procfile.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=config.settings \
    TENDER_RUN_DIR=/tmp/tender-run
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx-light \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DEMO_MODE=true python manage.py collectstatic --noinput
RUN useradd --system --uid 10001 tender && chown -R tender /app
USER tender
EXPOSE 8000 3000 3001
CMD ["python", "-m", "config.serving", "run", "front"]
