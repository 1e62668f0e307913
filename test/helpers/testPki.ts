import { execFileSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** PEM files of a throw-away CA and a server certificate it signed for 127.0.0.1 and localhost. */
export interface TestPki {
  ca: string;
  server_cert: string;
  server_key: string;
  /** A second CA that signed nothing here: a client trusting only it must refuse the server. */
  other_ca: string;
  /** A client certificate and key the CA signed (CN=linewatch), for brokers that require one. */
  client_cert: string;
  client_key: string;
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", `/CN=${name}`]);
  return { cert, key };
}

/** Writes a CA, a server key and certificate (SAN IP:127.0.0.1, DNS:localhost) and a second CA into `dir`, all world-readable. */
export function makeTestPki(dir: string): TestPki {
  const ca = makeCa(dir, "linewatch-test-ca");
  const other = makeCa(dir, "other-ca");
  const key = join(dir, "server.key");
  const csr = join(dir, "server.csr");
  const cert = join(dir, "server.crt");
  const ext = join(dir, "server.ext");
  writeFileSync(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost"]);
  openssl(["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext]);
  const clientKey = join(dir, "client.key");
  const clientCsr = join(dir, "client.csr");
  const clientCert = join(dir, "client.crt");
  openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", clientKey, "-out", clientCsr, "-subj", "/CN=linewatch"]);
  openssl(["x509", "-req", "-in", clientCsr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out", clientCert, "-days", "2"]);
  // mosquitto may run as its own user; let it read the key.
  for (const f of [ca.cert, other.cert, key, cert, clientCert, clientKey]) chmodSync(f, 0o644);
  return { ca: ca.cert, server_cert: cert, server_key: key, other_ca: other.cert, client_cert: clientCert, client_key: clientKey };
}
