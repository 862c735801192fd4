# Tender: one image for every role (web, worker, beat); the command picks the role.
# Not built in CI (this machine kind has no Docker engine); kept in step with the Procfile.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=config.settings
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DEMO_MODE=true python manage.py collectstatic --noinput
RUN useradd --system --uid 10001 tender && chown -R tender /app
USER tender
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "config.asgi:application"]
