"""Page routes (the root index, checkout, checkout.js, dashboard), mounted at the site root."""

from django.urls import path
from django.views.generic import RedirectView

from realtime.views import (
    checkout,
    dashboard,
    dashboard_payments,
    dashboard_search,
    dashboard_streams,
    dashboard_team,
    dashboard_webhooks,
    root,
    static,
)

urlpatterns: list = [
    path("", root.site_root, name="site-root"),
    path("checkout", checkout.checkout_page, name="checkout"),
    path("checkout/payments/<str:payment_id>", checkout.checkout_payment_status, name="checkout-payment-status"),
    path("checkout.js", checkout.checkout_js, name="checkout-js"),
    path("static/<path:path>", static.static_file, name="static-file"),
    path("login", dashboard.login_view, name="login"),
    path("logout", dashboard.logout_view, name="logout"),
    path("dashboard", RedirectView.as_view(url="/dashboard/", permanent=False)),
    path("dashboard/", dashboard.home, name="dashboard"),
    path("dashboard/transactions", dashboard_search.transactions_or_search, name="dashboard-transactions"),
    path("dashboard/transactions.csv", dashboard_search.transactions_csv, name="dashboard-transactions-csv"),
    path("dashboard/webhooks", dashboard_webhooks.webhooks_page, name="dashboard-webhooks"),
    path("dashboard/streams", dashboard_streams.streams_page, name="dashboard-streams"),
    path("dashboard/streams/<str:destination_id>/replay", dashboard_streams.streams_replay),
    path("dashboard/docs", dashboard.docs, name="dashboard-docs"),
    path("dashboard/team", dashboard_team.team_page, name="dashboard-team"),
    path("dashboard/team/invite", dashboard_team.team_invite),
    path("dashboard/team/<str:member_id>", dashboard_team.team_member_update),
    path("dashboard/settings/timezone", dashboard_team.timezone_update),
    path("dashboard/audit", dashboard_team.audit_page, name="dashboard-audit"),
    path("invite/<str:token>", dashboard_team.invitation_accept, name="invitation-accept"),
    path("dashboard/payments/<str:payment_id>", dashboard_payments.payment_page, name="dashboard-payment"),
    path("dashboard/payments/<str:payment_id>/refund", dashboard_payments.payment_refund),
    path("dashboard/payments/<str:payment_id>/capture", dashboard_payments.payment_capture),
    path("dashboard/payments/<str:payment_id>/cancel", dashboard_payments.payment_cancel),
    path("dashboard/api/payments/<str:payment_id>/detail", dashboard_payments.api_payment_detail),
    path("dashboard/api/ticket", dashboard.api_ticket, name="dashboard-api-ticket"),
    path("dashboard/api/payments", dashboard.api_payments, name="dashboard-api-payments"),
    path("dashboard/api/payments/older", dashboard.api_payments_older, name="dashboard-api-payments-older"),
    path("dashboard/api/stats", dashboard.api_stats, name="dashboard-api-stats"),
    path("dashboard/api/webhooks/config", dashboard_webhooks.api_webhook_config),
    path("dashboard/api/webhooks/regenerate-secret", dashboard_webhooks.api_webhook_regenerate_secret),
    path("dashboard/api/webhooks/test", dashboard_webhooks.api_webhook_test),
    path("dashboard/api/webhooks/logs", dashboard_webhooks.api_webhook_logs),
    path("dashboard/api/webhooks/<str:delivery_id>/retry", dashboard_webhooks.api_webhook_retry),
]
