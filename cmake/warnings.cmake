# Our own targets get strict warnings; third-party headers are SYSTEM includes.
function(peerup_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-mismatched-new-delete)
endfunction()
