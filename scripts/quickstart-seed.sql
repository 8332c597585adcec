-- Demo data for scripts/quickstart.sh: expired and revoked rows that cleartokens deletes, so its result
-- shows non-zero counts. Parameter-free, run with psql -v ON_ERROR_STOP=1; a new batch on every run.
-- (oauthq itself never builds SQL from text: every statement it runs is parameterised.)
BEGIN;

INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
VALUES ('!', false, 'quickstart-demo', '', '', '', false, true, now())
ON CONFLICT (username) DO NOTHING;

INSERT INTO oauth2_provider_application (client_id, redirect_uris, client_type, authorization_grant_type,
    client_secret, name, user_id, skip_authorization, created, updated, algorithm, post_logout_redirect_uris,
    hash_client_secret, allowed_origins, registration_source)
SELECT 'quickstart-demo-seed', '', 'confidential', 'client-credentials', '', 'quickstart seed data', u.id,
    false, now(), now(), '', '', true, '', 'manual'
FROM auth_user u WHERE u.username = 'quickstart-demo'
ON CONFLICT (client_id) DO NOTHING;

CREATE TEMPORARY TABLE seed_owner ON COMMIT DROP AS
SELECT a.id AS application_id, a.user_id FROM oauth2_provider_application a WHERE a.client_id = 'quickstart-demo-seed';

-- 5 access tokens that expired two days ago, each with its (unrevoked) refresh token: with
-- REFRESH_TOKEN_EXPIRE_SECONDS=86400, step 3 deletes the refresh tokens and step 4 the access tokens.
CREATE TEMPORARY TABLE seed_at ON COMMIT DROP AS
SELECT 'qs-at-' || gen_random_uuid() AS token FROM generate_series(1, 5);
INSERT INTO oauth2_provider_accesstoken (token, expires, scope, application_id, user_id, created, updated,
    token_checksum, resource)
SELECT t.token, now() - interval '2 days', 'read', o.application_id, o.user_id, now() - interval '3 days',
    now() - interval '3 days', encode(sha256(convert_to(t.token, 'UTF8')), 'hex'), '[]'::jsonb
FROM seed_at t CROSS JOIN seed_owner o;
INSERT INTO oauth2_provider_refreshtoken (token, access_token_id, application_id, user_id, created, updated,
    revoked, token_checksum, resource)
SELECT 'qs-rt-' || gen_random_uuid(), at.id, o.application_id, o.user_id, at.created, at.created, NULL,
    encode(sha256(convert_to(at.token || '-rt', 'UTF8')), 'hex'), '[]'::jsonb
FROM oauth2_provider_accesstoken at JOIN seed_at t ON t.token = at.token CROSS JOIN seed_owner o;

-- 2 refresh tokens revoked two days ago (step 1).
INSERT INTO oauth2_provider_refreshtoken (token, access_token_id, application_id, user_id, created, updated,
    revoked, token_checksum, resource)
SELECT 'qs-revoked-' || g.t, NULL, o.application_id, o.user_id, now() - interval '3 days',
    now() - interval '2 days', now() - interval '2 days', encode(sha256(convert_to('qs-revoked-' || g.t, 'UTF8')), 'hex'),
    '[]'::jsonb
FROM (SELECT gen_random_uuid()::text AS t FROM generate_series(1, 2)) g CROSS JOIN seed_owner o;

-- 2 ID tokens that expired an hour ago (step 5).
INSERT INTO oauth2_provider_idtoken (jti, expires, scope, created, updated, application_id, user_id)
SELECT gen_random_uuid(), now() - interval '1 hour', 'openid', now() - interval '2 hours',
    now() - interval '2 hours', o.application_id, o.user_id
FROM generate_series(1, 2) CROSS JOIN seed_owner o;

-- 3 authorization codes that expired an hour ago (step 6).
INSERT INTO oauth2_provider_grant (code, expires, redirect_uri, scope, application_id, user_id, created, updated,
    code_challenge, code_challenge_method, nonce, claims, resource)
SELECT 'qs-code-' || gen_random_uuid(), now() - interval '1 hour', 'https://example.com/cb', 'read',
    o.application_id, o.user_id, now() - interval '2 hours', now() - interval '2 hours', '', '', '', '', '[]'::jsonb
FROM generate_series(1, 3) CROSS JOIN seed_owner o;

COMMIT;
