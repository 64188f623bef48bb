-- Tokens limited to some clusters: their names, comma-separated (cluster names are DNS labels).
-- NULL: every cluster. Only viewer and operator tokens are limited; the token reaches a cluster
-- by its name, so a cluster deleted and made again under the same name is reached again.
ALTER TABLE tokens ADD COLUMN clusters TEXT;
