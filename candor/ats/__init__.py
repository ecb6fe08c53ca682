"""The ATS data Candor mirrors: jobs, candidates, applications and interviews."""
