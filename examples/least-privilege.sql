-- A least-privilege PostgreSQL role for `oauthq worker` (and `oauthq cleartokens` / `createapplication`)
-- on Django OAuth Toolkit 3.4.1's tables. Run it as the tables' owner (the role Django migrates with):
--   psql "$OWNER_DATABASE_URL" -v ON_ERROR_STOP=1 -f examples/least-privilege.sql
-- then set the worker's DATABASE_URL to postgres://oauthq_worker:PASSWORD@host/db and set its password
-- (\password oauthq_worker). `oauthq migrate` and `migrate --cleanup-indexes` need the owner, not this role.
-- Advisory locks (cleartokens' single-flight lock) need no grant: pg_try_advisory_lock is open to PUBLIC.
-- Nor do DOT's identity columns: INSERT covers them. Tested: Tests/OAuthQTests/LeastPrivilegeRoleTests.swift.
CREATE ROLE oauthq_worker LOGIN;
GRANT USAGE ON SCHEMA public TO oauthq_worker;

-- createapplication: does the owner exist, is the client id free, then one INSERT.
GRANT SELECT ON auth_user TO oauthq_worker;
GRANT SELECT, INSERT ON oauth2_provider_application TO oauthq_worker;

-- cleartokens: reads the candidate rows, does Django's SET NULL on the two nullable links, and deletes.
-- (SELECT is needed by DELETE … WHERE and by the foreign-key checks; it also lets cleartokens see the
-- planner's row estimates and whether the cleanup indexes exist.)
GRANT SELECT, DELETE, UPDATE (source_refresh_token_id) ON oauth2_provider_accesstoken TO oauthq_worker;
GRANT SELECT, DELETE, UPDATE (access_token_id) ON oauth2_provider_refreshtoken TO oauthq_worker;
GRANT SELECT, DELETE ON oauth2_provider_idtoken TO oauthq_worker;
GRANT SELECT, DELETE ON oauth2_provider_grant TO oauthq_worker;
