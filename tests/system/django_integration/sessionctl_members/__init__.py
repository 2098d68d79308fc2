"""A custom user model for test_users.py: its own table, a UUID primary key, no
is_active field (AbstractBaseUser's class attribute says True), as a site's
`AUTH_USER_MODEL = "sessionctl_members.Member"` would be."""
