"""The service layer the API routes, the web pages and the seed share: rules live here, once."""
