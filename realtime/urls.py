"""Page routes (checkout, checkout.js, dashboard), mounted at the site root."""

urlpatterns: list = []
