package runtime

import (
	"context"
	"errors"
	"net/http"
)

// This file holds the engine until the implementation lands.

var errTODO = errors.New("engine: not implemented yet")

type engine struct {
	opts     Options
	finished chan struct{}
}

func newEngine(g Graph, reg *Registry, opts Options) (*engine, error) { return nil, errTODO }
func (e *engine) start(ctx context.Context) error                   { return errTODO }
func (e *engine) shutdown(ctx context.Context) error                { return errTODO }
func (e *engine) reload(g Graph) error                              { return errTODO }
func (e *engine) stats() Snapshot                                   { return Snapshot{} }
func (e *engine) handler() http.Handler                             { return http.NotFoundHandler() }
func (e *engine) metricsAddr() string                               { return "" }
