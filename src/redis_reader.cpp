// redis: the RESP reply reader (hiredis's parser building our Reply objects, within bounds)
// and the encoding of commands.
#include <hiredis/read.h>

#include <charconv>
#include <memory>

#include "internal/redis.h"

namespace tornado::redis {

namespace {

// The reader's limits reach the callbacks through privdata.
const Limits& limits_of(const redisReadTask* task) {
  // hiredis 0.14 gives the tasks the reader's privdata.
  return *static_cast<const Limits*>(task->privdata);
}

// A new value: the root (owned by whoever takes the reply) or the next element of its
// parent array (hiredis creates elements in order, a child array's elements before its next
// sibling, so no pointer into a parent's vector is used after the vector grows).
void* place(const redisReadTask* task, Reply&& value) {
  if (task->parent) {
    auto* parent = static_cast<Reply*>(task->parent->obj);
    parent->elements.push_back(std::move(value));
    return &parent->elements.back();
  }
  return new Reply(std::move(value));
}

void* create_string(const redisReadTask* task, char* str, size_t len) {
  Reply r;
  r.type = task->type == REDIS_REPLY_ERROR    ? Reply::Type::kError
           : task->type == REDIS_REPLY_STATUS ? Reply::Type::kStatus
                                              : Reply::Type::kString;
  r.str.assign(str, len);
  return place(task, std::move(r));
}

void* create_array(const redisReadTask* task, int elements) {
  if (elements < 0 || static_cast<std::size_t>(elements) > limits_of(task).max_array_elements) {
    return nullptr;  // hiredis reports it (as out of memory): a protocol error for us
  }
  Reply r;
  r.type = Reply::Type::kArray;
  r.elements.reserve(std::min(elements, 1024));  // a huge count is only allocated as it arrives
  return place(task, std::move(r));
}

void* create_integer(const redisReadTask* task, long long value) {
  Reply r;
  r.type = Reply::Type::kInteger;
  r.integer = value;
  return place(task, std::move(r));
}

void* create_nil(const redisReadTask* task) { return place(task, Reply{}); }

void free_object(void* object) { delete static_cast<Reply*>(object); }

redisReplyObjectFunctions kFunctions = {create_string, create_array, create_integer, create_nil,
                                        free_object};

}  // namespace

ReplyReader::ReplyReader(Limits limits)
    : reader_(redisReaderCreateWithFunctions(&kFunctions)), limits_(limits) {
  if (!reader_) throw std::bad_alloc();
  reader_->privdata = &limits_;
}

ReplyReader::~ReplyReader() { redisReaderFree(reader_); }

void ReplyReader::feed(std::string_view bytes) {
  if (reader_->err) throw ProtocolError(reader_->errstr);
  if (redisReaderFeed(reader_, bytes.data(), bytes.size()) != REDIS_OK) {
    throw ProtocolError(reader_->errstr);
  }
}

std::optional<Reply> ReplyReader::next() {
  void* object = nullptr;
  if (redisReaderGetReply(reader_, &object) != REDIS_OK) {
    throw ProtocolError(std::string("bad Redis reply: ") + reader_->errstr);
  }
  if (!object) {
    // What is left is the start of one reply: bounded, whatever the split it came in.
    if (reader_->len - reader_->pos > limits_.max_reply_bytes) {
      throw ProtocolError("Redis reply larger than " + std::to_string(limits_.max_reply_bytes) +
                          " bytes");
    }
    return std::nullopt;
  }
  std::unique_ptr<Reply> reply(static_cast<Reply*>(object));
  return std::move(*reply);
}

std::string encode_command(const std::vector<std::string>& args) {
  std::string out;
  std::size_t size = 16;
  for (const auto& a : args) size += a.size() + 16;
  out.reserve(size);
  char num[24];
  auto append_count = [&](char kind, std::size_t n) {
    out.push_back(kind);
    auto r = std::to_chars(num, num + sizeof num, n);
    out.append(num, r.ptr).append("\r\n");
  };
  append_count('*', args.size());
  for (const auto& a : args) {
    append_count('$', a.size());
    out.append(a).append("\r\n");
  }
  return out;
}

std::string Reply::describe() const {
  switch (type) {
    case Type::kString:
      return '"' + str + '"';
    case Type::kStatus:
      return str;
    case Type::kError:
      return "(error) " + str;
    case Type::kInteger:
      return "(integer) " + std::to_string(integer);
    case Type::kNil:
      return "(nil)";
    case Type::kArray: {
      std::string s = "[";
      for (std::size_t i = 0; i < elements.size(); ++i) {
        if (i) s += ", ";
        s += elements[i].describe();
      }
      return s + "]";
    }
  }
  return "?";
}

}  // namespace tornado::redis
