package kafka

import (
	"testing"

	"github.com/weirproject/weir/connector/internal/conntest"
)

func TestMain(m *testing.M) { conntest.Main(m) }
