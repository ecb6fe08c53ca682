"""Read models for the HR console's pages (the pages themselves live in api/console/)."""
