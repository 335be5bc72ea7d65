// The key per-address limits count a client under (net/client-key.ts):
// IPv4 by address, IPv6 by /64, anything else in one shared bucket.
import t from 'tap';
import { addressKey, clientKey, UNKNOWN_CLIENT } from '../src/net/client-key.js';
import { TrustedProxies } from '../src/net/forwarded.js';

t.test('IPv4: the address itself, IPv4-mapped IPv6 unmapped', async (t) => {
  t.equal(clientKey('198.51.100.7'), '198.51.100.7');
  t.equal(clientKey('::ffff:198.51.100.7'), '198.51.100.7');
  t.equal(clientKey('::FFFF:10.0.0.1'), '10.0.0.1');
});

t.test('IPv6: counted per /64, whatever the form of the address', async (t) => {
  t.equal(clientKey('2001:db8:0:1::1'), '2001:db8:0:1::/64');
  t.equal(clientKey('2001:db8:0:1:ffff:ffff:ffff:ffff'), '2001:db8:0:1::/64', 'every address of the /64 is one client');
  t.equal(clientKey('2001:0DB8:0000:0001:0:0:0:2'), '2001:db8:0:1::/64', 'leading zeros and case');
  t.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64', 'a gap inside the /64');
  t.equal(clientKey('2001:db8:0:2::1'), '2001:db8:0:2::/64', 'the next /64 is another client');
  t.equal(clientKey('::1'), '0:0:0:0::/64');
  t.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64', 'zone id dropped');
  t.equal(clientKey('64:ff9b:1:2::192.0.2.33'), '64:ff9b:1:2::/64', 'an embedded IPv4 tail counts as two hextets');
  t.equal(clientKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64', 'no gap');
});

t.test('no usable address: the one shared bucket', async (t) => {
  t.equal(clientKey(undefined), UNKNOWN_CLIENT);
  t.equal(clientKey('garbage'), UNKNOWN_CLIENT);
  t.equal(clientKey(''), UNKNOWN_CLIENT);
});

t.test('addressKey: a trusted proxy\'s own connection is not counted; a forwarded IPv6 client by its /64', async (t) => {
  const loopback = new TrustedProxies(['loopback']);
  t.equal(addressKey({ address: '127.0.0.1', proxy: undefined }, loopback), undefined);
  t.equal(addressKey({ address: '127.0.0.1', proxy: undefined }, undefined), '127.0.0.1', 'no trusted proxies: loopback is a client like any other');
  t.equal(addressKey({ address: '2001:db8:5:6::99', proxy: '127.0.0.1' }, loopback), '2001:db8:5:6::/64');
  t.equal(addressKey({ address: undefined, proxy: '127.0.0.1' }, loopback), UNKNOWN_CLIENT);
  t.equal(addressKey({ address: '2001:db8:5:6::99', proxy: undefined }, loopback), '2001:db8:5:6::/64');
});
