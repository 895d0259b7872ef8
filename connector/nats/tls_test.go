package nats

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/internal/conntest"
)

// selfSigned writes a CA-less self-signed certificate for 127.0.0.1 and
// its key to dir, and returns the server's TLS config and the cert path.
func selfSigned(t *testing.T, dir string) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "weir test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kb, _ := x509.MarshalECPrivateKey(key)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	certFile := filepath.Join(dir, "cert.pem")
	writeFile(t, certFile, string(certPEM))
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, certFile
}

// TestSinkTLS publishes over TLS, trusting the server through ca_file, and
// fails without it.
func TestSinkTLS(t *testing.T) {
	dir := t.TempDir()
	cfg, ca := selfSigned(t, dir)
	ts := startServer(t, func(o *server.Options) { o.TLSConfig = cfg; o.TLS = true })
	s := newSink(t, sinkConfig(ts, map[string]any{"tls": map[string]any{"ca_file": ca}}))
	connect(t, s)
	b := conntest.NewBatch(t, 4, 256)
	conntest.Fill(t, b, 1, "over tls")
	if st, err := s.Write(b); st != cabi.OK {
		t.Fatalf("Write over TLS = %v, %v", st, err)
	}
	if err := s.Drain(); err != nil {
		t.Fatal(err)
	}
	// Without the CA the server's certificate is not trusted.
	s2 := newSink(t, sinkConfig(ts, map[string]any{"tls": map[string]any{"enable": true}, "connect_timeout": "1s"}))
	if err := s2.Connect(context.Background(), 1); err == nil {
		t.Error("Connect trusted a self-signed certificate without ca_file")
	}
	// A missing CA file is permanent and named.
	s3 := newSink(t, sinkConfig(ts, map[string]any{"tls": map[string]any{"ca_file": filepath.Join(dir, "missing.pem")}}))
	if err := s3.Connect(context.Background(), 1); !errors.Is(err, connector.ErrPermanent) || !strings.Contains(err.Error(), "ca_file") {
		t.Errorf("Connect with a missing ca_file = %v; want a permanent error naming ca_file", err)
	}
}
