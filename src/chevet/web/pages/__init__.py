"""Server-rendered pages that features add beside the web client: each module here with a
``router`` is included (the web client's own pages live in ``chevet.web.ui``)."""
