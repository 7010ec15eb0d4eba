// postgres: results and rows over libpq's PGresult (text format), and parameters as text.
#include <libpq-fe.h>

#include <charconv>
#include <cstring>
#include <string>
#include <vector>

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

struct Result::Data {
  int rows = 0;
  std::vector<std::string> names;  // the columns
  std::string text;                // every value's text, row by row, one after another
  std::vector<std::size_t> ends;   // where each value ends in `text` (rows x columns)
  std::vector<bool> nulls;         // which values are NULL
  std::string tag;                 // "INSERT 0 1"
  std::int64_t affected = 0;
};

std::shared_ptr<Result::Data> Result::start_building() { return std::make_shared<Data>(); }

std::size_t Result::add_row(Data& d, pg_result* row) {
  const int columns = PQnfields(row);
  if (d.rows == 0 && d.names.empty()) {
    for (int c = 0; c < columns; ++c) d.names.emplace_back(PQfname(row, c));
  }
  const std::size_t before = bytes(d);
  for (int r = 0; r < PQntuples(row); ++r) {
    for (int c = 0; c < columns; ++c) {
      const bool null = PQgetisnull(row, r, c);
      if (!null) d.text.append(PQgetvalue(row, r, c), static_cast<std::size_t>(PQgetlength(row, r, c)));
      d.ends.push_back(d.text.size());
      d.nulls.push_back(null);
    }
    ++d.rows;
  }
  return bytes(d) - before;
}

void Result::finish_building(Data& d, pg_result* last) {
  // The last result of a statement: a SELECT's (no rows in single-row mode, its columns
  // even when no row came) or a command's.
  if (d.names.empty()) {
    for (int c = 0; c < PQnfields(last); ++c) d.names.emplace_back(PQfname(last, c));
  }
  if (PQntuples(last) > 0) add_row(d, last);  // a statement that ran without single-row mode
  d.tag = PQcmdStatus(last);
  const char* n = PQcmdTuples(last);
  std::from_chars(n, n + std::strlen(n), d.affected);
}

std::size_t Result::bytes(const Data& d) noexcept {
  return d.text.size() + d.ends.size() * sizeof(std::size_t);
}

int Result::size() const noexcept { return data_ ? data_->rows : 0; }

int Result::columns() const noexcept { return data_ ? static_cast<int>(data_->names.size()) : 0; }

std::string Result::column_name(int column) const {
  if (column < 0 || column >= columns()) {
    throw Error("postgres: no column " + std::to_string(column) + " (the result has " +
                std::to_string(columns()) + ")");
  }
  return data_->names[static_cast<std::size_t>(column)];
}

// An exact match: PQfnumber would fold unquoted names to lower case.
int Result::column_index(std::string_view name) const noexcept {
  const int n = columns();
  for (int i = 0; i < n; ++i) {
    if (name == data_->names[static_cast<std::size_t>(i)]) return i;
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

std::int64_t Result::affected_rows() const noexcept { return data_ ? data_->affected : 0; }

std::string Result::command_tag() const { return data_ ? data_->tag : ""; }

int Row::size() const { return result_->columns(); }

std::optional<std::string_view> Row::operator[](int column) const {
  if (column < 0 || column >= result_->columns()) {
    throw Error("postgres: no column " + std::to_string(column) + " (the result has " +
                std::to_string(result_->columns()) + ")");
  }
  const Result::Data& d = *result_->data_;
  const std::size_t i = static_cast<std::size_t>(row_) * d.names.size() + static_cast<std::size_t>(column);
  if (d.nulls[i]) return std::nullopt;
  const std::size_t begin = i == 0 ? 0 : d.ends[i - 1];
  return std::string_view(d.text).substr(begin, d.ends[i] - begin);
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
