package nats

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/internal/redact"
	"github.com/weirproject/weir/connector/spec"
)

// Modes of the connectors.
const (
	modeCore      = "core"
	modeJetStream = "jetstream"
)

// connSpec lists the connection fields both connectors share.
var connSpec = spec.Spec{
	{Name: "url", Kind: spec.String, Default: nats.DefaultURL, Doc: "Server URL, or several separated by commas; nats:// or tls://. Credentials do not belong here: use user and password_file or the other credential fields."},
	{Name: "mode", Kind: spec.Enum, Enum: []string{modeCore, modeJetStream}, Default: modeCore, Doc: "core (plain subjects, at most once) or jetstream (a stream, acknowledged)."},
	{Name: "client_name", Kind: spec.String, Default: "", Doc: "Name the server shows for the connection; empty is weir-INSTANCE."},
	{Name: "user", Kind: spec.String, Default: "", Doc: "User name for user/password authentication."},
	{Name: "password", Kind: spec.String, Default: "", Secret: true, Doc: "Password; prefer password_file, or ${VAR} to take it from the environment. Never printed."},
	{Name: "password_file", Kind: spec.String, Default: "", Doc: "File whose content (less a trailing newline) is the password."},
	{Name: "token", Kind: spec.String, Default: "", Secret: true, Doc: "Authentication token; prefer token_file or ${VAR}. Never printed."},
	{Name: "token_file", Kind: spec.String, Default: "", Doc: "File whose content (less a trailing newline) is the token."},
	{Name: "creds_file", Kind: spec.String, Default: "", Doc: "NATS credentials file (a user JWT and nkey seed) for decentralized authentication."},
	{Name: "nkey_file", Kind: spec.String, Default: "", Doc: "File holding an nkey seed for nkey authentication."},
	{Name: "tls", Kind: spec.Object, Default: map[string]any{}, Doc: "TLS settings; any of them turns TLS on.", Fields: spec.Spec{
		{Name: "ca_file", Kind: spec.String, Default: "", Doc: "PEM file of the CAs that sign the server's certificate; empty uses the system's."},
		{Name: "cert_file", Kind: spec.String, Default: "", Doc: "PEM client certificate, for servers that verify clients."},
		{Name: "key_file", Kind: spec.String, Default: "", Doc: "PEM private key of cert_file."},
		{Name: "enable", Kind: spec.Bool, Default: false, Doc: "Require TLS even with no file given."},
	}},
	{Name: "connect_timeout", Kind: spec.Duration, Default: "5s", Min: "1ms", Doc: "How long one connection attempt may take."},
	{Name: "reconnect_wait", Kind: spec.Duration, Default: "100ms", Min: "1ms", Doc: "First wait between reconnection attempts; it doubles per failed attempt, up to reconnect_max_wait, with jitter."},
	{Name: "reconnect_max_wait", Kind: spec.Duration, Default: "5s", Min: "1ms", Doc: "Longest wait between reconnection attempts."},
}

// tlsConfig is the decoded tls object.
type tlsConfig struct {
	CAFile   string `json:"ca_file"`
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	Enable   bool   `json:"enable"`
}

// connConfig is the decoded connection fields.
type connConfig struct {
	URL              string             `json:"url"`
	Mode             string             `json:"mode"`
	ClientName       string             `json:"client_name"`
	User             string             `json:"user"`
	Password         string             `json:"password"`
	PasswordFile     string             `json:"password_file"`
	Token            string             `json:"token"`
	TokenFile        string             `json:"token_file"`
	CredsFile        string             `json:"creds_file"`
	NkeyFile         string             `json:"nkey_file"`
	TLS              tlsConfig          `json:"tls"`
	ConnectTimeout   spec.DurationValue `json:"connect_timeout"`
	ReconnectWait    spec.DurationValue `json:"reconnect_wait"`
	ReconnectMaxWait spec.DurationValue `json:"reconnect_max_wait"`
}

// check reports contradictions between the connection fields.
func (c *connConfig) check() error {
	if c.Password != "" && c.PasswordFile != "" {
		return errors.New("password and password_file: give one of them")
	}
	if c.Token != "" && c.TokenFile != "" {
		return errors.New("token and token_file: give one of them")
	}
	if (c.Password != "" || c.PasswordFile != "") && c.User == "" {
		return errors.New("password needs user")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("tls: cert_file and key_file go together")
	}
	for _, u := range strings.Split(c.URL, ",") {
		p, err := url.Parse(strings.TrimSpace(u))
		if err != nil || p.Host == "" {
			return fmt.Errorf("url %q: want nats://HOST:PORT", redactURL(u))
		}
		if p.User != nil {
			return fmt.Errorf("url %q: credentials in the URL would be printed; use user and password_file (or password: ${VAR})", redactURL(u))
		}
	}
	return nil
}

// redactURL hides any user info in a server URL, or in each of a
// comma-separated list, for messages and logs; it works on the text, so
// a URL that does not parse is hidden as well.
func redactURL(u string) string {
	parts := strings.Split(u, ",")
	for i, p := range parts {
		parts[i] = redact.Userinfo(p)
	}
	return strings.Join(parts, ",")
}

// readSecret reads a credential file, less one trailing newline.
func readSecret(field, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", connector.Permanent(fmt.Errorf("%s: %w", field, err))
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", connector.Permanent(fmt.Errorf("%s %s: file is empty", field, path))
	}
	return s, nil
}

// connStats counts what happens to a connection.
type connStats struct {
	disconnects atomic.Uint64
	reconnects  atomic.Uint64
	asyncErrors atomic.Uint64
}

func (s *connStats) counters() []connector.Counter {
	return []connector.Counter{
		{Name: "disconnects", Help: "Connections to the server lost.", Value: s.disconnects.Load()},
		{Name: "reconnects", Help: "Connections to the server restored.", Value: s.reconnects.Load()},
		{Name: "async_errors", Help: "Errors the server or client reported asynchronously (slow consumer, permissions).", Value: s.asyncErrors.Load()},
	}
}

// dial connects to the server with the configured credentials, TLS and
// reconnection policy. Reconnection after a loss is nats.go's, in the
// background, with exponential backoff; while it lasts, publishes fail at
// once rather than filling a client buffer (ReconnectBufSize -1), so the
// sink can answer RETRY. An authentication failure is permanent.
func dial(ctx context.Context, c *connConfig, instance string, log loggerLike, st *connStats) (*nats.Conn, error) {
	name := c.ClientName
	if name == "" {
		name = "weir-" + instance
	}
	base, maxWait := time.Duration(c.ReconnectWait), time.Duration(c.ReconnectMaxWait)
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(time.Duration(c.ConnectTimeout)),
		nats.MaxReconnects(-1),
		nats.ReconnectBufSize(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			d := base << min(attempts, 20)
			if d <= 0 || d > maxWait {
				d = maxWait
			}
			return d/2 + rand.N(d/2+1)
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // our own Close, not a loss
			}
			st.disconnects.Add(1)
			if err != nil {
				log.Warn("disconnected from NATS", "err", err)
			} else {
				log.Info("disconnected from NATS")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			st.reconnects.Add(1)
			log.Info("reconnected to NATS", "server", redactURL(nc.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			st.asyncErrors.Add(1)
			log.Warn("NATS error", "err", err)
		}),
	}
	if c.User != "" {
		pw := c.Password
		if c.PasswordFile != "" {
			var err error
			if pw, err = readSecret("password_file", c.PasswordFile); err != nil {
				return nil, err
			}
		}
		opts = append(opts, nats.UserInfo(c.User, pw))
	}
	if c.Token != "" || c.TokenFile != "" {
		tok := c.Token
		if c.TokenFile != "" {
			var err error
			if tok, err = readSecret("token_file", c.TokenFile); err != nil {
				return nil, err
			}
		}
		opts = append(opts, nats.Token(tok))
	}
	if c.CredsFile != "" {
		if _, err := os.Stat(c.CredsFile); err != nil {
			return nil, connector.Permanent(fmt.Errorf("creds_file: %w", err))
		}
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.NkeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(c.NkeyFile)
		if err != nil {
			return nil, connector.Permanent(fmt.Errorf("nkey_file %s: %w", c.NkeyFile, err))
		}
		opts = append(opts, o)
	}
	if t := c.TLS; t.Enable || t.CAFile != "" || t.CertFile != "" {
		for _, f := range [...]struct{ name, path string }{{"tls ca_file", t.CAFile}, {"tls cert_file", t.CertFile}, {"tls key_file", t.KeyFile}} {
			if f.path == "" {
				continue
			}
			if _, err := os.Stat(f.path); err != nil {
				return nil, connector.Permanent(fmt.Errorf("%s: %w", f.name, err))
			}
		}
		opts = append(opts, nats.Secure())
		if t.CAFile != "" {
			opts = append(opts, nats.RootCAs(t.CAFile))
		}
		if t.CertFile != "" {
			opts = append(opts, nats.ClientCert(t.CertFile, t.KeyFile))
		}
	}
	type result struct {
		nc  *nats.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(c.URL, opts...)
		ch <- result{nc, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, ctx.Err()
	}
	if r.err != nil {
		err := fmt.Errorf("connect to %s: %w", redactURL(c.URL), r.err)
		if errors.Is(r.err, nats.ErrAuthorization) || errors.Is(r.err, nats.ErrAuthExpired) ||
			errors.Is(r.err, nats.ErrAuthRevoked) || errors.Is(r.err, nats.ErrAccountAuthExpired) ||
			strings.Contains(strings.ToLower(r.err.Error()), "authorization violation") {
			return nil, connector.Permanent(fmt.Errorf("%w (check user, password, token or credentials)", err))
		}
		return nil, err
	}
	return r.nc, nil
}

// loggerLike is the part of *slog.Logger the connection uses.
type loggerLike interface {
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
}
