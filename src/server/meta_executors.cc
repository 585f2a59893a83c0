// The meta commands (mg ms md ma me): not implemented yet.
#include "protocol/text_request.h"
#include "server/text_session.h"

namespace memkv::server {

void executeMetaGet(TextCookie& c) {
  c.out.raw(text::kErrorLine);
}
void executeMetaSet(TextCookie& c) {
  c.out.raw(text::kErrorLine);
}
void executeMetaDelete(TextCookie& c) {
  c.out.raw(text::kErrorLine);
}
void executeMetaArithmetic(TextCookie& c) {
  c.out.raw(text::kErrorLine);
}
void executeMetaDebug(TextCookie& c) {
  c.out.raw(text::kErrorLine);
}

}  // namespace memkv::server
