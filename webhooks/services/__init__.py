"""Services of the webhooks app (writes). Views, tasks and admin actions call these."""
