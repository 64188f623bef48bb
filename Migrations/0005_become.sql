-- Unprivileged SSH logins: run every command as this user through `sudo -n` (Ansible's become
-- with the sudo method). NULL: run as the login user. The node's value overrides the cluster's.
ALTER TABLE clusters ADD COLUMN ssh_become TEXT;
ALTER TABLE nodes ADD COLUMN ssh_become TEXT;
