// postgres: results and rows over libpq's PGresult (text format), and parameters as text.
#include <libpq-fe.h>

#include <cstring>
#include <string>

#include "tornado/postgres.h"

namespace tornado::postgres {

Param to_param(double v) {
  // to_chars without a precision gives the shortest text that reads back as the same double.
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) throw Error("postgres: cannot format a double parameter");
  std::string text(buf, end);
  if (text == "inf") return std::string("Infinity");
  if (text == "-inf") return std::string("-Infinity");
  if (text == "nan" || text == "-nan") return std::string("NaN");
  return text;
}

Result::Result(pg_result* r) : result_(r, &PQclear) {}

int Result::size() const noexcept { return result_ ? PQntuples(result_.get()) : 0; }

int Result::columns() const noexcept { return result_ ? PQnfields(result_.get()) : 0; }

std::string Result::column_name(int column) const {
  if (column < 0 || column >= columns()) {
    throw Error("postgres: no column " + std::to_string(column) + " (the result has " +
                std::to_string(columns()) + ")");
  }
  return PQfname(result_.get(), column);
}

// An exact match: PQfnumber would fold unquoted names to lower case.
int Result::column_index(std::string_view name) const noexcept {
  const int n = columns();
  for (int i = 0; i < n; ++i) {
    if (name == PQfname(result_.get(), i)) return i;
  }
  return -1;
}

Row Result::operator[](int row) const {
  if (row < 0 || row >= size()) {
    throw Error("postgres: no row " + std::to_string(row) + " (the result has " +
                std::to_string(size()) + ")");
  }
  return Row(this, row);
}

std::int64_t Result::affected_rows() const noexcept {
  if (!result_) return 0;
  const char* text = PQcmdTuples(result_.get());
  std::int64_t n = 0;
  std::from_chars(text, text + std::strlen(text), n);
  return n;
}

std::string Result::command_tag() const { return result_ ? PQcmdStatus(result_.get()) : ""; }

int Row::size() const { return result_->columns(); }

std::optional<std::string_view> Row::operator[](int column) const {
  if (column < 0 || column >= result_->columns()) {
    throw Error("postgres: no column " + std::to_string(column) + " (the result has " +
                std::to_string(result_->columns()) + ")");
  }
  pg_result* r = result_->result_.get();
  if (PQgetisnull(r, row_, column)) return std::nullopt;
  return std::string_view(PQgetvalue(r, row_, column),
                          static_cast<std::size_t>(PQgetlength(r, row_, column)));
}

std::optional<std::string_view> Row::operator[](std::string_view name) const {
  return (*this)[column_index(name)];
}

bool Row::is_null(int column) const { return !(*this)[column]; }

int Row::column_index(std::string_view name) const {
  const int i = result_->column_index(name);
  if (i < 0) throw Error("postgres: no column named \"" + std::string(name) + "\" in the result");
  return i;
}

void Row::bad_value(int column, const char* type) const {
  const std::string name = result_->column_name(column);
  if (!type) {
    throw Error("postgres: column \"" + name + "\" of row " + std::to_string(row_) +
                " is NULL (read it as a std::optional)");
  }
  std::string text(*(*this)[column]);
  if (text.size() > 40) text = text.substr(0, 40) + "...";
  throw Error("postgres: column \"" + name + "\" of row " + std::to_string(row_) + ": \"" + text +
              "\" is not a valid " + type);
}

}  // namespace tornado::postgres
