"""Page views: the hosted checkout, checkout.js and the merchant dashboard."""
