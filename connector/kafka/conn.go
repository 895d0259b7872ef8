package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/internal/redact"
	"github.com/weirproject/weir/connector/spec"
)

// connSpec lists the connection fields both connectors share.
var connSpec = spec.Spec{
	{Name: "brokers", Kind: spec.Strings, Default: []string{"127.0.0.1:9092"}, Doc: "Seed brokers, HOST:PORT."},
	{Name: "client_id", Kind: spec.String, Default: "", Doc: "Client ID the brokers see; empty is weir-INSTANCE."},
	{Name: "sasl", Kind: spec.Object, Default: map[string]any{}, Doc: "SASL authentication; none when mechanism is empty.", Fields: spec.Spec{
		{Name: "mechanism", Kind: spec.Enum, Enum: []string{"", "plain", "scram-sha-256", "scram-sha-512"}, Default: "", Doc: "plain, scram-sha-256 or scram-sha-512; empty is no SASL."},
		{Name: "user", Kind: spec.String, Default: "", Doc: "SASL user."},
		{Name: "password", Kind: spec.String, Default: "", Secret: true, Doc: "SASL password; prefer password_file, or ${VAR}. Never printed."},
		{Name: "password_file", Kind: spec.String, Default: "", Doc: "File whose content (less a trailing newline) is the SASL password."},
	}},
	{Name: "tls", Kind: spec.Object, Default: map[string]any{}, Doc: "TLS settings; any of them turns TLS on.", Fields: spec.Spec{
		{Name: "ca_file", Kind: spec.String, Default: "", Doc: "PEM file of the CAs that sign the brokers' certificates; empty uses the system's."},
		{Name: "cert_file", Kind: spec.String, Default: "", Doc: "PEM client certificate, for brokers that verify clients."},
		{Name: "key_file", Kind: spec.String, Default: "", Doc: "PEM private key of cert_file."},
		{Name: "enable", Kind: spec.Bool, Default: false, Doc: "Require TLS even with no file given."},
	}},
	{Name: "connect_timeout", Kind: spec.Duration, Default: "5s", Min: "1ms", Doc: "How long connecting (a metadata round trip) may take in Connect."},
}

type saslConfig struct {
	Mechanism    string `json:"mechanism"`
	User         string `json:"user"`
	Password     string `json:"password"`
	PasswordFile string `json:"password_file"`
}

type tlsConfig struct {
	CAFile   string `json:"ca_file"`
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	Enable   bool   `json:"enable"`
}

// connConfig is the decoded connection fields.
type connConfig struct {
	Brokers        []string           `json:"brokers"`
	ClientID       string             `json:"client_id"`
	SASL           saslConfig         `json:"sasl"`
	TLS            tlsConfig          `json:"tls"`
	ConnectTimeout spec.DurationValue `json:"connect_timeout"`
}

func (c *connConfig) check() error {
	if len(c.Brokers) == 0 {
		return errors.New("brokers: give at least one HOST:PORT")
	}
	for _, b := range c.Brokers {
		if strings.Contains(b, "@") {
			return fmt.Errorf("brokers: %q: credentials in a broker address would be printed; use sasl user and password_file (or password: ${VAR})", redact.Userinfo(b))
		}
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("brokers: %q is not HOST:PORT", redact.Userinfo(b))
		}
	}
	s := c.SASL
	if s.Password != "" && s.PasswordFile != "" {
		return errors.New("sasl: password and password_file: give one of them")
	}
	if s.Mechanism != "" && s.User == "" {
		return fmt.Errorf("sasl: mechanism %s needs user", s.Mechanism)
	}
	if s.Mechanism == "" && (s.User != "" || s.Password != "" || s.PasswordFile != "") {
		return errors.New("sasl: user and password need a mechanism")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("tls: cert_file and key_file go together")
	}
	return nil
}

// clientOpts returns the franz-go options for the connection fields,
// reading credential and certificate files. A missing file is permanent.
func (c *connConfig) clientOpts(instance string, hooks *connHooks) ([]kgo.Opt, error) {
	id := c.ClientID
	if id == "" {
		id = "weir-" + instance
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ClientID(id), kgo.WithHooks(hooks),
		kgo.DialTimeout(time.Duration(c.ConnectTimeout))}
	if s := c.SASL; s.Mechanism != "" {
		pw := s.Password
		if s.PasswordFile != "" {
			b, err := os.ReadFile(s.PasswordFile)
			if err != nil {
				return nil, connector.Permanent(fmt.Errorf("sasl password_file: %w", err))
			}
			pw = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		}
		switch s.Mechanism {
		case "plain":
			opts = append(opts, kgo.SASL(plain.Auth{User: s.User, Pass: pw}.AsMechanism()))
		case "scram-sha-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: s.User, Pass: pw}.AsSha256Mechanism()))
		case "scram-sha-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: s.User, Pass: pw}.AsSha512Mechanism()))
		}
	}
	if t := c.TLS; t.Enable || t.CAFile != "" || t.CertFile != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if t.CAFile != "" {
			pem, err := os.ReadFile(t.CAFile)
			if err != nil {
				return nil, connector.Permanent(fmt.Errorf("tls ca_file: %w", err))
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, connector.Permanent(fmt.Errorf("tls ca_file %s: no PEM certificate in it", t.CAFile))
			}
		}
		if t.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
			if err != nil {
				return nil, connector.Permanent(fmt.Errorf("tls cert_file/key_file: %w", err))
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	return opts, nil
}

// ping checks that a broker answers, within connect_timeout. Refused
// credentials are permanent.
func ping(ctx context.Context, cl *kgo.Client, c *connConfig) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.ConnectTimeout))
	defer cancel()
	err := cl.Ping(ctx)
	if err == nil {
		return nil
	}
	// A broker that accepts the connection and closes it during SASL,
	// twice, refused the credentials (some brokers answer a bad password
	// by closing rather than with an error code).
	closedInSASL := c.SASL.Mechanism != "" && errors.Is(err, io.EOF) && errors.Is(cl.Ping(ctx), io.EOF)
	err = fmt.Errorf("connect to %s: %w", strings.Join(c.Brokers, ","), err)
	if isAuthErr(err) {
		return connector.Permanent(fmt.Errorf("%w (check the sasl user and password)", err))
	}
	if closedInSASL {
		return connector.Permanent(fmt.Errorf("%w: the broker closed the connection during SASL authentication (check the sasl mechanism, user and password)", err))
	}
	return err
}

func isAuthErr(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.IllegalSaslState) ||
		errors.Is(err, kerr.UnsupportedSaslMechanism) || errors.Is(err, kerr.TopicAuthorizationFailed) ||
		errors.Is(err, kerr.ClusterAuthorizationFailed) || errors.Is(err, kerr.GroupAuthorizationFailed)
}

// connHooks counts broker connections and disconnections.
type connHooks struct {
	log          *slog.Logger
	connects     atomic.Uint64
	connectFails atomic.Uint64
	disconnects  atomic.Uint64
}

var (
	_ kgo.HookBrokerConnect    = (*connHooks)(nil)
	_ kgo.HookBrokerDisconnect = (*connHooks)(nil)
)

// OnBrokerConnect counts a connection attempt.
func (h *connHooks) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		if h.connectFails.Add(1)%100 == 1 {
			h.log.Warn("cannot connect to a Kafka broker", "broker", net.JoinHostPort(meta.Host, fmt.Sprint(meta.Port)), "err", err)
		}
		return
	}
	h.connects.Add(1)
}

// OnBrokerDisconnect counts a lost connection.
func (h *connHooks) OnBrokerDisconnect(kgo.BrokerMetadata, net.Conn) { h.disconnects.Add(1) }

func (h *connHooks) counters() []connector.Counter {
	return []connector.Counter{
		{Name: "broker_connects", Help: "Connections opened to brokers.", Value: h.connects.Load()},
		{Name: "broker_connect_errors", Help: "Failed attempts to connect to a broker (the client retries with backoff).", Value: h.connectFails.Load()},
		{Name: "broker_disconnects", Help: "Connections to brokers closed or lost.", Value: h.disconnects.Load()},
	}
}
