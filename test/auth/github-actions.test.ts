/**
 * GitHub Actions OIDC tokens, with the dev issuer standing in for token.actions.githubusercontent.com.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createGithubActionsVerifier } from '../../src/auth/github-actions-verifier.js';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';
import { assert401, postWithToken } from '../helpers/http.js';
import { callWhoami } from '../helpers/mcp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const AUD = 'vault-mcp-ci';
const claims = (repo: string) => ({
  sub: `repo:${repo}:ref:refs/heads/main`,
  aud: AUD,
  repository: repo,
  repository_owner: repo.split('/')[0],
  ref: 'refs/heads/main',
  workflow: 'nightly-sync',
  actor: 'octocat',
});

describe('GitHub Actions OIDC', () => {
  let actions: DevIssuer;
  let s: TestServer;
  before(async () => {
    actions = await startDevIssuer();
    s = await startTestServer({
      GITHUB_ACTIONS_AUDIENCE: AUD,
      GITHUB_ACTIONS_ISSUER: actions.issuer,
      GITHUB_ACTIONS_REPOSITORIES: 'acme/*,partner/etl',
      GITHUB_ACTIONS_TENANT: 'acme',
      GITHUB_ACTIONS_SCOPES: 'vault:read',
    });
  });
  after(async () => {
    await s?.close();
    await actions?.close();
  });

  it('accepts a workflow of an allowed repository as a tenant-bound identity', async () => {
    const me = await callWhoami(s.url, await actions.mint(claims('acme/qms-sync')));
    assert.equal(me.provider, 'github-actions');
    assert.equal(me.subject, 'github-actions:repo:acme/qms-sync:ref:refs/heads/main');
    assert.deepEqual(me.scopes, ['vault:read']);
    const u = await createGithubActionsVerifier({
      issuer: actions.issuer,
      audience: AUD,
      repositories: ['partner/etl'],
      tenantId: 'acme',
      scopes: ['vault:read'],
      clockSkewSeconds: 30,
    }).verify(await actions.mint(claims('Partner/ETL')));
    assert.equal(u.tenantId, 'acme');
    assert.equal(u.email, undefined);
  });

  it('refuses any other repository, including look-alike owners', async () => {
    for (const repo of ['evil/qms-sync', 'acme-evil/qms-sync', 'partner/etl-fork']) {
      await assert401(
        await postWithToken(s.url, await actions.mint(claims(repo))),
        `The GitHub Actions repository '${repo}' is not allowed (GITHUB_ACTIONS_REPOSITORIES)`,
      );
    }
  });

  it('refuses a token for another audience and one without a repository claim', async () => {
    await assert401(
      await postWithToken(s.url, await actions.mint({ ...claims('acme/x'), aud: 'sts.amazonaws.com' })),
      `The token audience (aud) is not this resource; expected ${AUD}`,
    );
    await assert401(
      await postWithToken(s.url, await actions.mint({ ...claims('acme/x'), repository: undefined })),
      "The token claim 'repository' is invalid: missing",
    );
  });
});
