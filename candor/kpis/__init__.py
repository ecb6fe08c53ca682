"""Response KPIs: is every candidate hearing back in time? Definitions in docs/kpis.md."""
