# Runs inside ctest (included from the scripts hnn_catch_discover_tests writes): lists the
# Catch2 v2 test cases of one executable and registers each as a ctest test.
include_guard(GLOBAL)

function(_hnn_bracket out value)  # value as a CMake bracket argument
  set(${out} "[==[${value}]==]" PARENT_SCOPE)
endfunction()

function(hnn_catch_add_tests)
  cmake_parse_arguments(PARSE_ARGV 0 arg ""
    "TARGET;EXECUTABLE;WORKING_DIRECTORY;PREFIX;CACHE_FILE;CMAKE_COMMAND" "EXTRA_ARGS;PROPERTIES")

  if(NOT EXISTS "${arg_EXECUTABLE}")
    # Not built yet: a test whose command does not exist fails with "Could not find executable".
    add_test("${arg_PREFIX}${arg_TARGET}_NOT_BUILT" "${arg_EXECUTABLE}")
    return()
  endif()

  if(NOT EXISTS "${arg_CACHE_FILE}" OR "${arg_EXECUTABLE}" IS_NEWER_THAN "${arg_CACHE_FILE}")
    execute_process(
      COMMAND "${arg_EXECUTABLE}" --list-test-names-only
      WORKING_DIRECTORY "${arg_WORKING_DIRECTORY}"
      OUTPUT_VARIABLE output ERROR_VARIABLE errors RESULT_VARIABLE result)
    # Catch2 v2 exits with the number of tests (mod 256), so only a crash or a failure to start
    # (a non-numeric result) is an error here; an empty list is checked below.
    set(script "")
    if(NOT result MATCHES "^[0-9]+$")
      string(APPEND script
        "add_test([==[${arg_PREFIX}${arg_TARGET}_DISCOVERY_FAILED]==] [==[${arg_EXECUTABLE}]==] --list-test-names-only)\n")
      message(WARNING "${arg_TARGET}: listing its tests failed (${result}): ${errors}")
      # Not cached: the next ctest run tries again.
      file(REMOVE "${arg_CACHE_FILE}")
      file(WRITE "${arg_CACHE_FILE}.failed" "${script}")
      include("${arg_CACHE_FILE}.failed")
      return()
    else()
      string(REPLACE ";" "<hnn-semicolon>" output "${output}")
      string(REPLACE "\n" ";" lines "${output}")
      set(count 0)
      set(props "")
      foreach(prop IN LISTS arg_PROPERTIES)
        _hnn_bracket(quoted "${prop}")
        string(APPEND props " ${quoted}")
      endforeach()
      set(extra "")
      foreach(extra_arg IN LISTS arg_EXTRA_ARGS)
        _hnn_bracket(quoted "${extra_arg}")
        string(APPEND extra " ${quoted}")
      endforeach()
      foreach(line IN LISTS lines)
        string(REPLACE "<hnn-semicolon>" ";" name "${line}")
        if(name STREQUAL "")
          continue()
        endif()
        # A Catch2 test spec treats \ , [ ] specially: escape them so the name matches itself.
        set(spec "${name}")
        foreach(char "\\" "," "[" "]")
          string(REPLACE "${char}" "\\${char}" spec "${spec}")
        endforeach()
        _hnn_bracket(test_name "${arg_PREFIX}${name}")
        _hnn_bracket(exe "${arg_EXECUTABLE}")
        _hnn_bracket(spec "${spec}")
        _hnn_bracket(wd "${arg_WORKING_DIRECTORY}")
        string(APPEND script "add_test(${test_name} ${exe} ${spec}${extra})\n"
                             "set_tests_properties(${test_name} PROPERTIES WORKING_DIRECTORY ${wd}${props})\n")
        math(EXPR count "${count} + 1")
      endforeach()
      if(count EQUAL 0)
        # A test file without test cases is a mistake; make it visible.
        string(APPEND script
          "add_test([==[${arg_PREFIX}${arg_TARGET}_HAS_NO_TESTS]==] [==[${arg_CMAKE_COMMAND}]==] -E false)\n")
      endif()
    endif()
    file(WRITE "${arg_CACHE_FILE}" "${script}")
  endif()
  include("${arg_CACHE_FILE}")
endfunction()
