-- Several senders share the queue: a sender renews and releases its claims
-- by its name, so that lookup must not scan the queue.
CREATE INDEX IF NOT EXISTS msg_claimed_by ON msg (claimed_by);
