"""Who works the back office: staff accounts, roles and tokens (staff.py), and the audit trail of
everything they change (audit.py). Used by the admin API, the CLI, the site and the services, so it
depends on none of them."""
