import { Controller, Get, HttpCode, HttpStatus, Inject, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiResponse } from '@nestjs/swagger';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { RequireScopes } from '@conveyor/http';
import { BackgroundMigrationsService, type MigrationAction } from '../background-migrations.service';
import { BackgroundMigrationListView, BackgroundMigrationView, toMigrationView } from './background-migration-view.dto';

const NOT_FOUND = { status: 404, description: 'BACKGROUND_MIGRATION_NOT_FOUND: no migration of that name is declared' };
const CONFLICT = { status: 409, description: 'MIGRATION_FINISHED (it has completed) or MIGRATION_WRONG_STATE (details name its status)' };

/** Background migrations for operators: progress, and start / pause / resume / retry. */
@Controller('v1/admin/background-migrations')
@RequireScopes('admin')
export class BackgroundMigrationsController {
  constructor(
    private readonly migrations: BackgroundMigrationsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get()
  @ApiResponse({ status: 200, type: BackgroundMigrationListView, description: 'Every declared migration (and any with state whose code is gone), by name' })
  @ApiOperation({ operationId: 'listBackgroundMigrations' })
  async list(): Promise<BackgroundMigrationListView> {
    return { migrations: (await this.migrations.list()).map((state) => toMigrationView(state, this.config)) };
  }

  @Get(':name')
  @ApiResponse({ status: 200, type: BackgroundMigrationView })
  @ApiResponse(NOT_FOUND)
  @ApiOperation({ operationId: 'getBackgroundMigration' })
  async get(@Param('name') name: string): Promise<BackgroundMigrationView> {
    return toMigrationView(await this.migrations.get(name), this.config);
  }

  @Post(':name/start')
  @HttpCode(HttpStatus.OK)
  @ApiResponse({ status: 200, type: BackgroundMigrationView, description: 'Running: its first step is queued' })
  @ApiResponse(NOT_FOUND)
  @ApiResponse(CONFLICT)
  @ApiOperation({ operationId: 'startBackgroundMigration' })
  start(@Param('name') name: string): Promise<BackgroundMigrationView> {
    return this.apply(name, 'start');
  }

  @Post(':name/pause')
  @HttpCode(HttpStatus.OK)
  @ApiResponse({ status: 200, type: BackgroundMigrationView, description: 'Paused: a batch under way commits, no further batch starts' })
  @ApiResponse(NOT_FOUND)
  @ApiResponse(CONFLICT)
  @ApiOperation({ operationId: 'pauseBackgroundMigration' })
  pause(@Param('name') name: string): Promise<BackgroundMigrationView> {
    return this.apply(name, 'pause');
  }

  @Post(':name/resume')
  @HttpCode(HttpStatus.OK)
  @ApiResponse({ status: 200, type: BackgroundMigrationView, description: 'Running again from the checkpoint (a paused one, or a stalled running one)' })
  @ApiResponse(NOT_FOUND)
  @ApiResponse(CONFLICT)
  @ApiOperation({ operationId: 'resumeBackgroundMigration' })
  resume(@Param('name') name: string): Promise<BackgroundMigrationView> {
    return this.apply(name, 'resume');
  }

  @Post(':name/retry')
  @HttpCode(HttpStatus.OK)
  @ApiResponse({ status: 200, type: BackgroundMigrationView, description: 'A failed migration runs again from its checkpoint' })
  @ApiResponse(NOT_FOUND)
  @ApiResponse(CONFLICT)
  @ApiOperation({ operationId: 'retryBackgroundMigration' })
  retry(@Param('name') name: string): Promise<BackgroundMigrationView> {
    return this.apply(name, 'retry');
  }

  private async apply(name: string, action: MigrationAction): Promise<BackgroundMigrationView> {
    return toMigrationView(await this.migrations.apply(name, action), this.config);
  }
}
