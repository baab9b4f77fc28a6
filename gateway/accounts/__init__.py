"""Who the gateway serves and what state they are in: providers and their credentials, the
admin's view of users and the admin's actions, lifecycle states and the scheduler."""
