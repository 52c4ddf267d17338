"""hqmed.serve: a one-page prediction web app for a finished run (``hqmed serve``; extra ``serve``)."""
