package lossy

import "errors"

// ErrBadConfig is returned (wrapped) by Config.Validate for a probability
// outside [0, 1] or a negative duration.
var ErrBadConfig = errors.New("lossy: bad config")
