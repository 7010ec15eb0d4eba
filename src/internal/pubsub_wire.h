// How a message travels through Redis (after "<epoch> <offset> " on a topic's channel, and
// as the `m` field of a history entry): "<t|b><key length>:<key><data>". Its own file so
// that the fuzz target checks it without the backend.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "tornado/pubsub.h"

namespace tornado::pubsub::detail {

std::string encode_wire(std::string_view data, bool binary, std::string_view key);
// The inverse: a Message of `topic` (no position yet), or null when malformed (the grammar,
// a key length past the end, or text that is not UTF-8).
std::shared_ptr<Message> decode_wire(const std::string& topic, std::string_view encoded);

}  // namespace tornado::pubsub::detail
