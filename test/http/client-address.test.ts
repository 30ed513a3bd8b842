/**
 * The per-address key of the rate limits and the connection cap: IPv6 by /64, IPv4-mapped as IPv4.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientAddressKey } from '../../src/http/client-address.js';

describe('clientAddressKey', () => {
  it('keys IPv4 addresses by themselves', () => {
    assert.equal(clientAddressKey('192.0.2.7'), '192.0.2.7');
    assert.notEqual(clientAddressKey('192.0.2.7'), clientAddressKey('192.0.2.8'));
  });

  it('keys IPv4-mapped IPv6 as the IPv4 address, in every spelling', () => {
    for (const ip of ['::ffff:192.0.2.7', '::FFFF:192.0.2.7', '::ffff:c000:207', '0:0:0:0:0:ffff:192.0.2.7'])
      assert.equal(clientAddressKey(ip), '192.0.2.7', ip);
  });

  it('keys IPv6 addresses by their /64: every address of one prefix shares one key', () => {
    const key = clientAddressKey('2001:db8:1:2::1');
    assert.equal(key, '2001:db8:1:2::/64');
    for (const ip of [
      '2001:db8:1:2:ffff:ffff:ffff:ffff',
      '2001:0DB8:0001:0002:1234:5678:9abc:def0',
      '2001:db8:1:2:0:0:0:2',
      '2001:db8:1:2::1%eth0',
    ])
      assert.equal(clientAddressKey(ip), key, ip);
    assert.notEqual(clientAddressKey('2001:db8:1:3::1'), key, 'another /64 is another client');
    assert.equal(clientAddressKey('::1'), '0:0:0:0::/64');
    assert.equal(clientAddressKey('fe80::1'), 'fe80:0:0:0::/64');
    assert.equal(clientAddressKey('2001:db8::'), '2001:db8:0:0::/64');
    assert.equal(clientAddressKey('64:ff9b::192.0.2.7'), '64:ff9b:0:0::/64', 'NAT64 is not IPv4-mapped');
  });

  it('passes anything else through (unknown peer)', () => {
    assert.equal(clientAddressKey(undefined), '');
    assert.equal(clientAddressKey(''), '');
    assert.equal(clientAddressKey('not-an-ip'), 'not-an-ip');
  });
});
