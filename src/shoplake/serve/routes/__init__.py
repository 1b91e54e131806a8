"""The API's routers, one module per resource; :mod:`shoplake.serve.app` includes them."""
