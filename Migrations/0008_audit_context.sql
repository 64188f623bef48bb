-- What a node ran when it was audited, kept with that audit so reports group history by the
-- Calico version and encapsulation of the time, not by today's inventory. Rows from before this
-- migration have NULL here (reports show them as `unknown`).
ALTER TABLE audit_nodes ADD COLUMN calico_version TEXT;
-- vxlan, ipip or none: what the cluster's IP pools said when kubectl could read them, else what
-- the inventory declared.
ALTER TABLE audit_nodes ADD COLUMN encapsulation TEXT;

-- Reports read findings and audit results by time.
CREATE INDEX findings_by_time ON findings (created_at);
CREATE INDEX audit_nodes_by_node_time ON audit_nodes (node_id, finished_at);
