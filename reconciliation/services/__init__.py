"""Services of reconciliation: runs (import + classification) and actions (policies, staff)."""
