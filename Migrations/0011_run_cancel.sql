-- Asking a running audit or repair to stop: who asked, and when. The run stops at its next step
-- boundary (a repair finishes and verifies the node it is on; an audit starts no more nodes) and
-- ends `cancelled`; until then it is still `running`, and still holds its cluster's lock.
ALTER TABLE runs ADD COLUMN cancelled_by TEXT;
ALTER TABLE runs ADD COLUMN cancel_requested_at TEXT;
