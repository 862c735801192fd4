"""Page routes (checkout, checkout.js, dashboard), mounted at the site root."""

from django.urls import path
from django.views.generic import RedirectView

from realtime.views import checkout, dashboard

urlpatterns: list = [
    path("checkout", checkout.checkout_page, name="checkout"),
    path("checkout/payments/<str:payment_id>", checkout.checkout_payment_status, name="checkout-payment-status"),
    path("checkout.js", checkout.checkout_js, name="checkout-js"),
    path("login", dashboard.login_view, name="login"),
    path("logout", dashboard.logout_view, name="logout"),
    path("dashboard", RedirectView.as_view(url="/dashboard/", permanent=False)),
    path("dashboard/", dashboard.home, name="dashboard"),
    path("dashboard/transactions", dashboard.transactions, name="dashboard-transactions"),
    path("dashboard/docs", dashboard.docs, name="dashboard-docs"),
    path("dashboard/api/ticket", dashboard.api_ticket, name="dashboard-api-ticket"),
    path("dashboard/api/payments", dashboard.api_payments, name="dashboard-api-payments"),
]
