#pragma once
// Replacing a file so that a reader (or a crash) never sees it half written.

#include <functional>
#include <string>

namespace lipschitz::gan::detail {

/// Replaces `path` atomically: `write(tmp)` fills a new temporary file beside it (a name unique
/// to this process and call), which is flushed to disk, renamed over `path`, and the directory
/// entry synced. On any failure the temporary file is removed and the exception propagates;
/// rename failures throw std::runtime_error naming `path`.
void replace_file(const std::string& path, const std::function<void(const std::string&)>& write);

/// replace_file() with `text` as the content; write failures name the file.
void replace_file_with_text(const std::string& path, const std::string& text);

/// Removes the temporary files that replace_file() (and the PNG writer, which names its files
/// alike: `NAME.tmp-PID-N`) left in `directory` when their process was killed mid-write
/// (SIGKILL, power loss). Files of a process that is still alive are kept; a missing
/// directory is not an error. Returns the number of files removed.
int remove_abandoned_temporaries(const std::string& directory);

}  // namespace lipschitz::gan::detail
