// RequestHandler: XSRF (signed cookies come with the options branch's web/signing.h).
#include "tornado/web.h"

namespace tornado::web {

// UNFINISHED until web/xsrf.h is merged: every checked request is refused.
void RequestHandler::check_xsrf_cookie() {
  throw HTTPError(403, "XSRF checking is not available yet (web/xsrf.h)");
}

}  // namespace tornado::web
